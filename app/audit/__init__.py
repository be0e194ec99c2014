"""Audit: replay recorded input through the decision core and compare it with the journal."""
