package mattermost

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/scimbridge/scimbridge/fanout"
)

// maxMessage bounds how much of an answer that is not an AppError (an
// HTML error page of a proxy) goes into an error message.
const maxMessage = 200

// AppError ids the connector acts on (server/channels/app and store in
// github.com/mattermost/mattermost).
const (
	idNoRoute          = "api.context.404.app_error"
	idEmailExists      = "app.user.save.email_exists.app_error"
	idUsernameExists   = "app.user.save.username_exists.app_error"
	idSaveUser         = "app.user.save.app_error"
	idAuthDataInUse    = "app.user.update_auth_data.email_exists.app_error"
	idChannelExists    = "store.sql_channel.save_channel.exists.app_error"
	idNotTeamMember    = "api.team.remove_user_from_team.missing.app_error"
	idMissingAccount   = "app.user.missing_account.const"
	idNotChannelMember = "app.channel.get_member.missing.app_error"
	// idDeactivated: AddChannelMember refuses a deactivated account.
	idDeactivated = "app.channel.add_member.deleted_user.app_error"
	// idTeamMemberMissing: never a member of the channel's team.
	idTeamMemberMissing = "app.team.get_member.missing.app_error"
	// idLeftTeam: left the channel's team.
	idLeftTeam = "api.channel.add_user.to.channel.failed.deleted.app_error"
)

// apiError is an answer of Mattermost's outside 2xx.
type apiError struct {
	status int
	// id is the AppError's id, "" when the answer was no AppError.
	id string
	// msg is the AppError's message, or the start of the answer.
	msg string
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d", e.status)
	if e.id != "" {
		b.WriteString(": " + e.id)
	}
	if e.msg != "" && e.msg != e.id {
		b.WriteString(": " + e.msg)
	}
	switch e.status {
	case http.StatusUnauthorized:
		b.WriteString(" (is the access token valid, not revoked, and its user active?)")
	case http.StatusForbidden:
		b.WriteString(" (the token must belong to a system administrator, or a bot with the system_admin role)")
	}
	return b.String()
}

// asAPIError returns the answer err wraps, or nil.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}

// isAppError reports whether err is, or wraps, an answer with that
// AppError id.
func isAppError(err error, id string) bool {
	ae := asAPIError(err)
	return ae != nil && ae.id == id
}

// isNotFound reports whether err is Mattermost's 404 for a missing object
// (a user, team, channel or member), not a 404 for a route that does not
// exist, nor one from something in front of Mattermost, which would point
// at a wrong url.
func isNotFound(err error) bool {
	ae := asAPIError(err)
	return ae != nil && ae.status == http.StatusNotFound && ae.id != "" && ae.id != idNoRoute
}

// classify turns a Client4 error into the connector's: 429 and 503 ask
// for a retry after Retry-After; other 5xx answers, a 408, an unreadable
// 2xx answer and network errors are retried; any other answer is
// terminal, as is a request that could not even be built (it would fail
// again).
func classify(op string, resp *model.Response, err error) error {
	if resp != nil && resp.StatusCode != 0 && resp.StatusCode/100 != 2 {
		ae := &apiError{status: resp.StatusCode}
		var appErr *model.AppError
		if errors.As(err, &appErr) {
			ae.id, ae.msg = appErr.Id, strings.TrimSpace(appErr.Message)
		} else {
			ae.msg = truncateMessage(err.Error())
		}
		wrapped := fmt.Errorf("mattermost: %s: %w", op, ae)
		return fanout.ClassifyStatus(wrapped, resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wrapped := fmt.Errorf("mattermost: %s: %w", op, err)
	if resp != nil && resp.StatusCode != 0 {
		return wrapped // a 2xx answer that could not be read
	}
	return fanout.ClassifyNoAnswer(wrapped)
}

func truncateMessage(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = s[:maxMessage] + "..."
	}
	return s
}
