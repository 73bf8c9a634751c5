"""Services the routes and tasks use (e-mail)."""
