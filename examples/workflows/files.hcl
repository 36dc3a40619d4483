# Files and directories between tasks. Each task writes into its working
# directory and returns the path; goflyte keeps the file in the run's data
# store (or a bucket, with --raw-output-data-prefix) and hands the next task
# a local path.
#
#   goflyte run files --input text="$(printf 'hello\nfiles')"
#   goflyte run read_file --input file=README.md
#   goflyte run read_file --input file=s3://my-bucket/notes.txt
workflow "files" {
  description = "Write text to a file, upper-case it, split it into a directory of lines and read them back."

  input "text" {
    type    = string
    default = "one\ntwo\nthree\n"
  }

  task "write" {
    uses   = "text.write"
    inputs = { text = input.text, name = "input.txt" }
  }
  task "shout" {
    uses   = "text.upper_file"
    inputs = { file = task.write.file }
  }
  task "lines" {
    uses   = "text.split_lines"
    inputs = { file = task.shout.file }
  }
  task "back" {
    uses   = "text.cat"
    inputs = { dir = task.lines.dir }
  }

  output "file" { value = task.shout.file }
  output "lines" { value = task.lines.dir }
  output "text" { value = task.back.text }
}

workflow "read_file" {
  description = "Read a file given as a local path or a URI."

  input "file" { type = file }

  task "read" {
    uses   = "text.read"
    inputs = { file = input.file }
    cache         = true # keyed by the file's contents, not its path
    cache_version = "1"
  }

  output "text" { value = task.read.text }
  output "bytes" { value = task.read.bytes }
}
