"""Paperboy: Hugging Face Papers, scraped politely, matched to keywords, mailed as digests."""

__version__ = "0.1.0"
