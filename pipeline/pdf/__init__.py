"""PDFs, images and office files: text layer or OCR, layout, tables, segment types, crops and page images."""
