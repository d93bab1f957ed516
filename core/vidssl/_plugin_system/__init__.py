"""Private: the plugin machinery: hook specifications, plugin loading, the component registry, the
contracts plugins meet, the Method base class.
"""
