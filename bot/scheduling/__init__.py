"""The periodic jobs, registered in one place, and the poller they run."""
