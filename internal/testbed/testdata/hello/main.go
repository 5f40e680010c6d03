// Command hello is a stand-in main for testing the build helper.
package main

import "fmt"

func main() { fmt.Println("hello from testbed") }
