"""StudentVault: a district's student data system that keeps every promise of its policy."""
