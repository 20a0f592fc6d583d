"""The source: OpenF1's wire shapes, and the HTTP client that asks for them."""
