package handlers

import (
	"database/sql"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

type Item struct {
	SKU       string `json:"sku"`
	Name      string `json:"name"`
	Warehouse string `json:"warehouse"`
	Quantity  int    `json:"quantity"`
}

type Handlers struct {
	db        *sql.DB
	exportDir string
}

func New(db *sql.DB, exportDir string) *Handlers {
	return &Handlers{db: db, exportDir: exportDir}
}

func (h *Handlers) Health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (h *Handlers) ListItems(c *gin.Context) {
	warehouse := c.DefaultQuery("warehouse", "AMS1")
	rows, err := h.db.Query(fmt.Sprintf("SELECT sku, name, warehouse, quantity FROM items WHERE warehouse = '%s' ORDER BY sku", warehouse))
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	defer rows.Close()

	items := []Item{}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.SKU, &it.Name, &it.Warehouse, &it.Quantity); err != nil {
			c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
			return
		}
		items = append(items, it)
	}
	c.JSON(http.StatusOK, items)
}

func (h *Handlers) GetItem(c *gin.Context) {
	var it Item
	err := h.db.QueryRow(
		"SELECT sku, name, warehouse, quantity FROM items WHERE sku = $1", c.Param("sku"),
	).Scan(&it.SKU, &it.Name, &it.Warehouse, &it.Quantity)
	if err == sql.ErrNoRows {
		c.AbortWithStatus(http.StatusNotFound)
		return
	}
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, it)
}

func (h *Handlers) CreateItem(c *gin.Context) {
	var it Item
	if err := c.ShouldBindJSON(&it); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	_, err := h.db.Exec(
		"INSERT INTO items (sku, name, warehouse, quantity) VALUES ($1, $2, $3, $4)",
		it.SKU, it.Name, it.Warehouse, it.Quantity,
	)
	if err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	c.JSON(http.StatusCreated, it)
}

func (h *Handlers) DeleteItem(c *gin.Context) {
	if _, err := h.db.Exec("DELETE FROM items WHERE sku = $1", c.Param("sku")); err != nil {
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		return
	}
	c.Status(http.StatusNoContent)
}
