# A file with nothing but comments is valid: every setting keeps its default.
