"""The hub-based serverless backend (azure-ai-ml)."""
