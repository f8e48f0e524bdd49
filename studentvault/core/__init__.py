"""Shared vocabulary of the whole system: data categories, field metadata, errors, clock."""
