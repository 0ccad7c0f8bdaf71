{
  "targets": [
    {
      "target_name": "blob_write",
      "sources": ["blob-write.c"]
    }
  ]
}
