package awsstep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/steps"
)

// sslRequest is PostgreSQL's SSLRequest message: length 8, code 80877103. Every PostgreSQL server
// answers it with one byte, S or N, before any authentication.
var sslRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// PostgresAnswers says whether a PostgreSQL server answers on ep: it connects and sends an
// SSLRequest, and takes the server's one-byte answer. A listener that accepts and closes (an
// endpoint whose name no instance holds yet) or a server that stays silent does not answer. It
// needs no credentials and leaves nothing behind.
func PostgresAnswers(ctx context.Context, ep Endpoint) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port)))
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write(sslRequest); err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := c.Read(b); err != nil {
		return fmt.Errorf("%s:%d accepted the connection but no server answered: %w", ep.Host, ep.Port, err)
	}
	if b[0] != 'S' && b[0] != 'N' {
		return fmt.Errorf("%s:%d answered %q to an SSLRequest: not PostgreSQL", ep.Host, ep.Port, b[0])
	}
	return nil
}

// errNotAnswering is why an instance listed under its name does not answer yet.
var errNotAnswering = errors.New("not answering yet")

// answers says whether the instance listed as inst answers under id: listed under that name (as
// the instance with resourceID, when given) with an endpoint on which PostgreSQL answers.
func answers(ctx context.Context, inst rdstypes.DBInstance, id, resourceID string) error {
	if aws.ToString(inst.DBInstanceIdentifier) != id {
		return errNotAnswering
	}
	if resourceID != "" && aws.ToString(inst.DbiResourceId) != resourceID {
		return fmt.Errorf("%s is instance %s, not the one renamed (%s)", id, aws.ToString(inst.DbiResourceId), resourceID)
	}
	ep, err := EndpointOf(inst)
	if err != nil {
		return err
	}
	return PostgresAnswers(ctx, ep)
}

// WaitAnswers polls until the instance answers under id — listed under the name (as the instance
// with resourceID, when given) and PostgreSQL answering on its endpoint — sleeping at most every
// between polls (0: 10 s). It does not wait for "available": a renamed instance answers, and takes
// connections, while still renaming; a later wait (WaitInstanceEvery) proves it available.
func (c *Clients) WaitAnswers(ctx context.Context, env *steps.Env, id, resourceID string, every time.Duration) (rdstypes.DBInstance, error) {
	p := newPoller(env, "instance "+id+" to answer under its name").every(every)
	for {
		inst, ok, err := c.Instance(ctx, id)
		if err != nil {
			return inst, err
		}
		status := "not listed yet"
		if ok {
			status = aws.ToString(inst.DBInstanceStatus)
			if failedStatus(status) {
				return inst, fmt.Errorf("instance %s is %s", id, status)
			}
			err := answers(ctx, inst, id, resourceID)
			if err == nil {
				env.Info(fmt.Sprintf("instance %s answers under its name, %s (after %s)", id, status, p.elapsed()))
				return inst, nil
			}
			if resourceID != "" && aws.ToString(inst.DbiResourceId) != resourceID {
				return inst, err
			}
			status += ", " + err.Error()
		}
		if err := p.wait(ctx, status); err != nil {
			return inst, err
		}
	}
}
