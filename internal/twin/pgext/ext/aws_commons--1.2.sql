-- cairn twin stand-in for RDS's aws_commons 1.2: the types aws_lambda takes.
\echo Use "CREATE EXTENSION aws_commons" to load this file. \quit

CREATE SCHEMA aws_commons;
REVOKE ALL ON SCHEMA aws_commons FROM PUBLIC;

CREATE TYPE aws_commons._lambda_function_arn_1 AS (function_name text, region text);

CREATE FUNCTION aws_commons.create_lambda_function_arn(function_name text, region text DEFAULT NULL)
RETURNS aws_commons._lambda_function_arn_1
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ROW(function_name, region)::aws_commons._lambda_function_arn_1 $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_commons FROM PUBLIC;
GRANT USAGE ON SCHEMA aws_commons TO rds_superuser WITH GRANT OPTION;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_commons TO rds_superuser WITH GRANT OPTION;
