"""Aggregate reports and the disclosure control that guards them."""
