package main

import (
	"flag"
	"log"
	"os"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v2"

	"github.com/acme/inventory-service/internal/auth"
	"github.com/acme/inventory-service/internal/handlers"
	"github.com/acme/inventory-service/internal/store"
)

type config struct {
	Listen            string `yaml:"listen"`
	ExportDir         string `yaml:"export_dir"`
	LowStockThreshold int    `yaml:"low_stock_threshold"`
}

func main() {
	configPath := flag.String("config", "config/inventory.yaml", "path to the YAML config")
	flag.Parse()

	raw, err := os.ReadFile(*configPath)
	if err != nil {
		log.Fatalf("read config: %v", err)
	}
	var cfg config
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		log.Fatalf("parse config: %v", err)
	}

	db, err := store.Open()
	if err != nil {
		log.Fatalf("open store: %v", err)
	}
	h := handlers.New(db, cfg.ExportDir)

	r := gin.Default()
	r.GET("/healthz", h.Health)

	authed := r.Group("/api", auth.RequireToken())
	authed.GET("/items", h.ListItems)
	authed.GET("/items/:sku", h.GetItem)
	authed.POST("/items", h.CreateItem)
	authed.POST("/exports/:name", h.Export)
	r.DELETE("/api/items/:sku", h.DeleteItem)

	if err := r.Run(cfg.Listen); err != nil {
		log.Fatal(err)
	}
}
