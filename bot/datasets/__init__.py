"""Bringing datasets onto disk safely: intake, the URL and address policy, the fetcher."""
