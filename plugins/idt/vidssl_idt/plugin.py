"""Entry point of vidssl-idt. The trajectory extractor, Fisher-vector encoder and clustering
stages are not implemented yet (see the open IDT issue); the plugin registers nothing so far."""
