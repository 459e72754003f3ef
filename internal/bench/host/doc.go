// Package host reads what the machine tells about its processes and its
// CPUs: a process's CPU time and memory from /proc/<pid>, the machine's CPU
// counters from /proc/stat, the load average, and the CPU used between two
// samples of all of them. It knows nothing of what runs in the processes.
package host
