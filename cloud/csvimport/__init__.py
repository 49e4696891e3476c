"""CSV import of master data: the whole file is validated first and every bad row reported
with its line, column and reason; only a file without problems is imported, in one
transaction."""
