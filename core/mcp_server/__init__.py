"""Baton as an MCP server: runs, approvals and their events for MCP clients (HTTP and stdio)."""
