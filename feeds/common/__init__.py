"""What ingestion and publishing both use: feed errors, the SSRF guard for outbound HTTP and the
HTML allow-list. Nothing here imports either side."""
