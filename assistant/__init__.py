"""The assistant: the llama.cpp engine and the remote backend behind one interface, prompts, conversations,
model choice and the chat session; the command line is in cli/."""
