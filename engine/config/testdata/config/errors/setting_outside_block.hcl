# Settings belong inside a section block.
logging_level = "debug" # ERROR: Setting outside a configuration block
colour        = "blue"  # ERROR: Setting outside a configuration block

sdk {
}
