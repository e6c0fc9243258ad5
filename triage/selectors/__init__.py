"""Read side for views and reports: filtered, paginated, aggregated querysets."""
