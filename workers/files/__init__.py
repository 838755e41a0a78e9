"""The files family: presigned uploads and downloads on S3."""
