"""The student: label schema, windowed tokenisation, network, decoding and export."""
