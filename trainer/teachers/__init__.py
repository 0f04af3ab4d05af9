"""Teachers label notes; the student is distilled from their labels."""
