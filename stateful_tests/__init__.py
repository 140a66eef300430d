"""Hypothesis rule-based machines exercising the reservations model, their strategies and profiles."""
