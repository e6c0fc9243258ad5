package store

import (
	"database/sql"
	"os"

	_ "github.com/lib/pq"
)

const defaultDSN = "postgres://inventory:Wh4reh0use-2023@db.internal:5432/inventory?sslmode=disable"

// Open connects to PostgreSQL, preferring DATABASE_URL when it is set.
func Open() (*sql.DB, error) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		dsn = defaultDSN
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(20)
	return db, db.Ping()
}
