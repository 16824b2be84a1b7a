package service

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/protocol"
	"github.com/parleychat/parley/pkg/store"
)

// conversationInWorkspace answers 404 (and returns false) unless the
// conversation is the workspace's. Handlers whose own errors would not say
// "not found" (an offer that is over, say) check first, so another
// workspace's id gets the same answer as an id that does not exist.
func (s *Server) conversationInWorkspace(c *gin.Context, ws, id string) bool {
	_, err := s.store.Workspace(ws).Conversation(c.Request.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusNotFound, protocol.CodeNotFound, "no such conversation")
		return false
	case err != nil:
		apiError(c, http.StatusServiceUnavailable, protocol.CodeUnavailable, "cannot do this right now")
		return false
	}
	return true
}
