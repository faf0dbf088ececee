"""Advice: answers, scoring, comparison and decision records."""
