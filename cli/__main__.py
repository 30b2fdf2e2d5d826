from .app import main

if __name__ == "__main__":  # a spawned child process (the quantizer) imports this module too
    main()
