"""The companion web view: phone-first pages over the same run API."""
