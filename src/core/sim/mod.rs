//! The built-in simulator of the OpenRouter API, for tests, benchmarks and the demo mode.
