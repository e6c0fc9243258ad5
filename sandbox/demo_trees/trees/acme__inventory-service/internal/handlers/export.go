package handlers

import (
	"net/http"
	"os/exec"
	"path/filepath"

	"github.com/gin-gonic/gin"
)

// Export dumps the items table for the finance team's nightly import.
func (h *Handlers) Export(c *gin.Context) {
	name := c.Param("name")
	target := filepath.Join(h.exportDir, name+".sql")
	cmd := exec.Command("sh", "-c", "pg_dump --table=items --data-only --file="+target+" inventory")
	if out, err := cmd.CombinedOutput(); err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": string(out)})
		return
	}
	c.JSON(http.StatusCreated, gin.H{"file": target})
}
