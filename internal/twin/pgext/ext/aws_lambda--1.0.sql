-- cairn twin stand-in for RDS's aws_lambda 1.0. aws_lambda.invoke asks the twin that runs this
-- instance (its endpoint is in the file cairn-twin.endpoint above the data directory) to invoke the
-- function; the twin does so only when the instance has an IAM role associated with feature Lambda,
-- as RDS does. Errors are raised as RDS raises them ("invoke API failed", "lambda invocation failed").
\echo Use "CREATE EXTENSION aws_lambda CASCADE" to load this file. \quit

CREATE SCHEMA aws_lambda;
REVOKE ALL ON SCHEMA aws_lambda FROM PUBLIC;

-- A private, untrusted language on PL/Python's handlers: only superusers can write functions in it,
-- and it goes away with the extension.
CREATE FUNCTION aws_lambda._twin_py_handler() RETURNS language_handler
    AS '$libdir/plpython3', 'plpython3_call_handler' LANGUAGE C;
CREATE FUNCTION aws_lambda._twin_py_inline(internal) RETURNS void
    AS '$libdir/plpython3', 'plpython3_inline_handler' LANGUAGE C STRICT;
CREATE FUNCTION aws_lambda._twin_py_validator(oid) RETURNS void
    AS '$libdir/plpython3', 'plpython3_validator' LANGUAGE C STRICT;
CREATE LANGUAGE aws_lambda_twin_py HANDLER aws_lambda._twin_py_handler
    INLINE aws_lambda._twin_py_inline VALIDATOR aws_lambda._twin_py_validator;

CREATE FUNCTION aws_lambda._twin_invoke(
    function_name text, region text, payload text, invocation_type text, log_type text,
    context text, qualifier text,
    OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE aws_lambda_twin_py VOLATILE
AS $py$
import json, os, urllib.request, urllib.error
port = int(plpy.execute("SELECT current_setting('port') AS p")[0]["p"])
endpoint = None
d = os.getcwd()
while True:
    f = os.path.join(d, "cairn-twin.endpoint")
    if os.path.isfile(f):
        with open(f) as fh:
            endpoint = fh.read().strip()
        break
    parent = os.path.dirname(d)
    if parent == d:
        break
    d = parent
if not endpoint:
    plpy.error("invoke API failed", detail="AWS Lambda client returned 'Unable to connect to endpoint'.")
body = json.dumps({"port": port, "function_name": function_name, "region": region, "payload": payload,
                   "invocation_type": invocation_type, "log_type": log_type, "client_context": context,
                   "qualifier": qualifier}).encode()
req = urllib.request.Request(endpoint + "/_twin/rds/lambda-invoke", data=body, method="POST",
                             headers={"Content-Type": "application/json"})
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
out = None
fail = None
try:
    with opener.open(req, timeout=960) as r:
        out = json.loads(r.read())
except urllib.error.HTTPError as e:
    try:
        fail = json.loads(e.read())
    except Exception:
        fail = {}
except Exception:
    fail = {"message": "invoke API failed", "detail": "AWS Lambda client returned 'Unable to connect to endpoint'."}
if fail is not None:
    plpy.error(fail.get("message") or "invoke API failed", detail=fail.get("detail"))
if out.get("function_error"):
    plpy.error("lambda invocation failed",
               detail='"%s" returned error "%s", details: "%s".' % (out.get("arn"), out["function_error"], out.get("error_details", "")))
p = out.get("payload")
if p is not None and p != "":
    try:
        json.loads(p)
    except Exception:
        plpy.error("lambda invocation failed", detail="the function's response is not JSON")
else:
    p = None
return {"status_code": out.get("status_code"), "payload": p,
        "executed_version": out.get("executed_version"), "log_result": out.get("log_result")}
$py$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name aws_commons._lambda_function_arn_1, IN payload json,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM aws_lambda._twin_invoke(($1).function_name, ($1).region, $2::text, $3, $4, $5::text, $6) $$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name aws_commons._lambda_function_arn_1, IN payload jsonb,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$ SELECT r.status_code, r.payload::jsonb, r.executed_version, r.log_result
      FROM aws_lambda._twin_invoke(($1).function_name, ($1).region, $2::text, $3, $4, $5::text, $6) r $$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name text, IN payload json, IN region text DEFAULT NULL,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context json DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload json, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$ SELECT * FROM aws_lambda._twin_invoke($1, $3, $2::text, $4, $5, $6::text, $7) $$;

CREATE FUNCTION aws_lambda.invoke(
    IN function_name text, IN payload jsonb, IN region text DEFAULT NULL,
    IN invocation_type text DEFAULT 'RequestResponse', IN log_type text DEFAULT 'None',
    IN context jsonb DEFAULT NULL, IN qualifier varchar(128) DEFAULT NULL,
    OUT status_code int, OUT payload jsonb, OUT executed_version text, OUT log_result text)
LANGUAGE sql VOLATILE
AS $$ SELECT r.status_code, r.payload::jsonb, r.executed_version, r.log_result
      FROM aws_lambda._twin_invoke($1, $3, $2::text, $4, $5, $6::text, $7) r $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda FROM PUBLIC;
GRANT USAGE ON SCHEMA aws_lambda TO rds_superuser WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION
    aws_lambda.invoke(aws_commons._lambda_function_arn_1, json, text, text, json, varchar),
    aws_lambda.invoke(aws_commons._lambda_function_arn_1, jsonb, text, text, jsonb, varchar),
    aws_lambda.invoke(text, json, text, text, text, json, varchar),
    aws_lambda.invoke(text, jsonb, text, text, text, jsonb, varchar),
    aws_lambda._twin_invoke(text, text, text, text, text, text, text)
  TO rds_superuser WITH GRANT OPTION;
