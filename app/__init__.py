"""Pitboss: a real-time gamified CRM engine for live-dealer casino tables."""
