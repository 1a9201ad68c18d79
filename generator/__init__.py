"""Draft generation: docs ingestion and chunking, prompts, the LLM client, the batch runner."""
