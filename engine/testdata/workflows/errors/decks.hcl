workflow "w" {
  task "a" {
    uses        = "fake.echo"
    inputs      = { s = "x" }
    enable_deck = "yes please" # ERROR: Invalid enable_deck
  }
  task "b" {
    uses        = "fake.echo"
    inputs      = { s = "x" }
    enable_deck = true
    deck_fields = [
      "Input",
      "Ouput", # ERROR: Unknown deck field
      "Graphs", # ERROR: Unknown deck field
      42, # ERROR: Invalid deck_fields
    ]
  }
  task "c" {
    uses        = "fake.echo"
    inputs      = { s = "x" }
    deck_fields = "Input" # ERROR: Invalid deck_fields
  }
  task "ok" {
    uses        = "fake.echo"
    inputs      = { s = "x" }
    enable_deck = true
    deck_fields = ["Source Code", "Timeline"]
  }
}
