// Serves the built bundle and the public, server-rendered search page.
const express = require("express");
const path = require("path");

const app = express();
const dist = path.join(__dirname, "..", "dist");

function escapeHtml(value) {
  return String(value)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

app.use("/assets", express.static(path.join(dist, "assets")));

app.get("/search", (req, res) => {
  const title = escapeHtml(req.query.title || "Search");
  res.send(`<!doctype html><title>${title}</title><h1>Results for ${req.query.q}</h1>`);
});

app.get("*", (req, res) => {
  res.sendFile(path.join(dist, "index.html"));
});

app.listen(process.env.PORT || 3000);
