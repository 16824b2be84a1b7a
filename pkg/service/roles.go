package service

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/pkg/apierr"
)

// requireRole lets only agents with one of the roles through (after
// requireAgent).
func requireRole(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		a := agentOf(c)
		for _, r := range roles {
			if a.Role == r {
				c.Next()
				return
			}
		}
		writeError(c, nil, apierr.Forbidden("only "+strings.Join(roles, " or ")+" may do this"))
	}
}
