module github.com/disputed/disputed

go 1.26
