"""Related stories: Vietnamese-aware text analysis, a TF-IDF index and ranked related lists."""
