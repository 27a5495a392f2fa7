"""Report writers: one module per output, all through one workbook writer (`workbook`)."""
