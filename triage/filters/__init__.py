"""django-filter FilterSets of the list pages: every filter is a query parameter."""
