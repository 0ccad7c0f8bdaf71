{
  "targets": [
    {
      "target_name": "blob_io",
      "sources": ["blob-io.c"]
    }
  ]
}
