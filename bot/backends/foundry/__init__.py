"""The ``foundry`` backend: Azure OpenAI fine-tuning on a Foundry project or Azure OpenAI resource through
the OpenAI-compatible v1 API, deployments through Azure Resource Manager (``backend.FoundryBackend``)."""
