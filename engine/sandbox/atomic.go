package sandbox

// WriteFileAtomic replaces dir/name (mode 0600) with data: readers see the
// old content or the new, never a part. The engine's plugin schema cache
// in the sandbox uses it.
func WriteFileAtomic(dir, name string, data []byte) error {
	return writeFileAtomic(dir, name, data, false)
}
