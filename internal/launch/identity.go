package launch

import (
	"os"
	"os/user"
	"strconv"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Who is the person at the keyboard of this process: its real uid, as the kernel has it. Only when
// that uid is 0 does SUDO_UID count, naming the person who ran sudo (root could claim anything
// anyway, and a team that works through sudo is still told apart). SUDO_USER and SUDO_UID set by
// anyone else change nothing.
func Who(getenv func(string) string) events.Actor {
	return Person(os.Getuid(), getenv("SUDO_UID"))
}

// Person is who a uid the kernel vouches for stands for: that uid, or for uid 0 with a SUDO_UID, the
// person who ran sudo. The name is the uid's login name from the user database, never a name the
// caller supplied.
func Person(uid int, sudoUID string) events.Actor {
	a := events.Actor{UID: uid}
	via := ""
	if uid == 0 && sudoUID != "" {
		if id, err := strconv.Atoi(sudoUID); err == nil && id > 0 {
			a.UID = id
			via = "sudo"
		}
	}
	a.User = userName(a.UID)
	a.Host, _ = os.Hostname()
	a.Via = via
	return a
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid" + strconv.Itoa(uid)
}
