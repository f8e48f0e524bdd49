"""Django database backend for the embedded SQLite file, encrypted with SQLCipher."""
